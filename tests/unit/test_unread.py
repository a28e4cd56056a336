"""Keys that do nothing, on evidence (issue 13 items 3 and 4): static candidates decided by
rendering without them (group testing, capped), hints only on evidence, and an architecture
the chart cannot express reported once, as the cause of its dependent checks' findings."""

from __future__ import annotations

import dataclasses
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from harness_refarch.chart.keypaths import KeyPath
from harness_refarch.chart.values import load_layer
from harness_refarch.checks.values_keys import declared_paths, unused_keys
from harness_refarch.engine import session as session_module
from harness_refarch.engine import unread
from harness_refarch.engine.session import Options, RefarchSession
from harness_refarch.engine.unread import Decision, decide, probe_values, same_objects, without_sets
from harness_refarch.model.catalog import load_catalog
from harness_refarch.model.identity import Volatility, learn_volatile
from harness_refarch.model.manifest import parse_manifest

REPO = Path(__file__).resolve().parents[2]
RELEASED = REPO.parent / "shared" / "reference" / "released-chart" / "harness"
needs_released = pytest.mark.skipif(not (RELEASED / "Chart.yaml").is_file(),
                                    reason="the released chart is not in ../shared/reference")
OVERLAY_KEYS = {("global", "backup"), ("global", "pdb"), ("global", "autoscaling")}
PROFILE_KEYS = {("code",), ("iacm",), ("data-platform",), ("sto", "ticket-service"), ("platform", "queue-service"),
                ("chaos", "chaos-machine-ifc"), ("chaos", "chaos-machine-ifs"), ("chaos", "load-test-manager")}


# -- group testing ---------------------------------------------------------------------------------
def _keys(*names: str) -> list[KeyPath]:
    return [(n,) for n in names]


class Renders:
    """A fake "render without these keys": it changes when a key of ``matter`` is removed."""

    def __init__(self, matter: set[str], together: set[str] | None = None) -> None:
        self.matter, self.together, self.calls = matter, together or set(), 0

    def __call__(self, group: Sequence[KeyPath]) -> bool:
        self.calls += 1
        names = {k[0] for k in group}
        return bool(names & self.matter) or (bool(self.together) and self.together <= names)


def test_keys_that_do_nothing_cost_one_render() -> None:
    renders = Renders(set())
    decision = decide(_keys(*"abcdefghij"), renders)
    assert decision.nothing == frozenset(_keys(*"abcdefghij")) and renders.calls == decision.renders == 1


def test_a_key_that_matters_is_found_by_bisection_and_never_reported() -> None:
    renders = Renders({"c"})
    decision = decide(_keys(*"abcdefgh"), renders)
    assert decision.matters == {("c",)}
    assert decision.nothing == frozenset(_keys(*"abdefgh"))
    assert renders.calls == decision.renders <= unread.MAX_PROBES
    assert decide(_keys(*"abcdefgh"), Renders({"c"})) == decision  # deterministic


def test_the_render_budget_is_a_hard_cap_and_undecided_keys_are_not_reported() -> None:
    renders = Renders(set("abcdefghijklmnop"))
    decision = decide(_keys(*"abcdefghijklmnop"), renders, max_probes=5)
    assert renders.calls == 4  # one render is kept for the confirmation, which nothing needs here
    assert decision.nothing == frozenset()
    assert decision.undecided | decision.matters == frozenset(_keys(*"abcdefghijklmnop"))
    assert "undecided" in decision.notes[-1]


def test_keys_that_matter_only_together_are_not_reported() -> None:
    decision = decide(_keys("x", "y", "z", "w"), Renders(set(), together={"x", "z"}))
    assert decision.nothing == frozenset()
    assert decision.undecided == frozenset(_keys("x", "y", "z", "w"))


def test_probe_values_remove_keys_and_sets_are_dropped() -> None:
    assert probe_values([("global", "backup"), ("global", "backup", "enabled"), ("code",)]) == {
        "code": None, "global": {"backup": None}}
    assert without_sets(["global.backup.enabled=true", "global.ha=true", "a\\.b.c=1"],
                        [("global", "backup"), ("a.b",)]) == ("global.ha=true",)


def _manifest(text: str) -> Any:
    return parse_manifest(text, "harness", "test")


def test_comparison_ignores_only_what_two_identical_renders_change() -> None:
    first = _manifest("kind: Secret\napiVersion: v1\nmetadata: {name: s-ab12cd}\ndata: {k: YQ==}\n---\n"
                      "kind: ConfigMap\napiVersion: v1\nmetadata: {name: c, annotations: {rollme: x1}}\n"
                      "data: {a: '1'}\n")
    second = _manifest("kind: Secret\napiVersion: v1\nmetadata: {name: s-zz99yy}\ndata: {k: Yg==}\n---\n"
                       "kind: ConfigMap\napiVersion: v1\nmetadata: {name: c, annotations: {rollme: y2}}\n"
                       "data: {a: '1'}\n")
    changed = _manifest("kind: Secret\napiVersion: v1\nmetadata: {name: s-qq11ww}\ndata: {k: Yw==}\n---\n"
                        "kind: ConfigMap\napiVersion: v1\nmetadata: {name: c, annotations: {rollme: z3}}\n"
                        "data: {a: '2'}\n")
    volatility = learn_volatile(first, second)
    assert same_objects(first, second, volatility)
    assert not same_objects(first, changed, volatility)
    assert not same_objects(first, second, Volatility())  # nothing learned: nothing ignored
    # a chain prepares the pair's side once: the same answers
    ready = unread.comparable(first, volatility)
    assert same_objects(first, second, volatility, ready) and not same_objects(first, changed, volatility, ready)


# -- hints on evidence -----------------------------------------------------------------------------
@needs_released
def test_no_far_fetched_hints_on_the_released_chart(tmp_path: Path) -> None:
    declared = declared_paths(RELEASED)
    findings = unused_keys(load_layer(RELEASED / "override-small.yaml"), declared, "profile")
    by_key = {f.field: f.hint for f in findings}
    assert by_key["code"] == by_key["sto.ticket-service"] == by_key["data-platform"] == ""
    old = tmp_path / "old-layout.yaml"  # services at the top, as before the modules existed
    old.write_text("ng-manager:\n  replicaCount: 3\n  java: {memory: 4096}\n"
                   "global:\n  backup: {enabled: true}\n  cx: {enabled: true}\n")
    hints = {f.field: f.hint for f in unused_keys(load_layer(old), declared, "old")}
    assert hints["ng-manager"] == "did you mean platform.ng-manager?"
    assert hints["global.backup"] == ""  # one "enabled" somewhere else is no evidence
    assert hints["global.cx"] == ""  # two letters one edit from "cd" is another word


# -- the released chart, rendered ----------------------------------------------------------------
@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory, real_helm: Path) -> RefarchSession:
    moved = tmp_path_factory.mktemp("user") / "older-release.yaml"
    moved.write_text("ng-manager:\n  replicaCount: 3\n  java: {memory: 4096}\n")
    session = RefarchSession(Options(chart=RELEASED, fixtures=REPO / "fixtures", helm=str(real_helm), cache=False,
                                     profiles=["small"], architectures=["prod-3-incluster", "dr-warm-standby"],
                                     values=[moved]))
    yield session
    session.close()


def _pair(rs: RefarchSession, architecture: str) -> Any:
    return next(p for p in rs.pairs if p.architecture.name == architecture)


@needs_released
def test_released_chart_overlay_and_profile_keys_are_named_and_really_do_nothing(
        released: RefarchSession, real_helm: Path, tmp_path: Path) -> None:
    pair = _pair(released, "prod-3-incluster")
    decision = released.unread(pair)
    assert OVERLAY_KEYS | PROFILE_KEYS | {("ng-manager",)} <= decision.nothing
    assert decision.renders == 1 and not decision.undecided  # all candidates in one render
    moved = [f for f in unused_keys(released.layer(released.options.values[0]), released.declared, "user",
                                    decision.nothing)]
    assert [(f.field, f.hint) for f in moved] == [("ng-manager", "did you mean platform.ng-manager?")]
    # The proof, independent of the suite's render cache: helm without every reported key.
    base = released.request(pair)
    without = unread.probe_request(released, base, sorted(decision.nothing))
    assert all(p == q or p.parent.name == "probes" for p, q in zip(without.values, base.values, strict=True))
    assert not any(p.is_relative_to(RELEASED) for p in without.values if p not in base.values)

    def helm(request: Any) -> Any:
        out = subprocess.run([str(real_helm), *request.template_args()], check=True, capture_output=True,
                             text=True, timeout=300)
        return parse_manifest(out.stdout, "harness", "proof")

    first, second = helm(base), helm(base)
    volatility = learn_volatile(first, second)
    assert same_objects(first, helm(without), volatility)
    # ... and the comparison can fail: a key the chart reads changes the render.
    read = tmp_path / "read.yaml"
    read.write_text("platform:\n  ng-manager:\n    resources:\n      limits:\n        memory: 9Gi\n")
    assert not same_objects(first, helm(dataclasses.replace(base, values=(*base.values, read))), volatility)


@needs_released
def test_released_chart_dr_standby_key_is_named(released: RefarchSession) -> None:
    pair = _pair(released, "dr-warm-standby")
    assert ("global", "dr") in released.unread(pair, standby=True).nothing


@needs_released
def test_dependent_checks_report_the_inexpressible_architecture_once(released: RefarchSession) -> None:
    pair = _pair(released, "prod-3-incluster")
    cause = unread.inexpressible(released, pair, "high_availability", hidden=3)
    assert cause is not None
    assert (cause.check, cause.field) == ("architecture", "global.pdb")
    assert cause.source == "overlays/prod-3-incluster.yaml:7 global.pdb"
    assert "test_architecture_expressible[small-prod-3-incluster]" in cause.hint
    assert "3 finding(s) are not listed" in cause.actual
    assert unread.inexpressible(released, pair, "hpa_bounds").field == "global.autoscaling"
    assert unread.inexpressible(released, pair, "database_quorum") is None  # relies on nothing unread
    assert unread.inexpressible(released, pair, "velero_backup") is None  # backup evidence is its own data
    dr = unread.inexpressible(released, _pair(released, "dr-warm-standby"), "warm_standby")
    assert dr is not None and dr.field == "global.dr"


# -- which overlay keys each check relies on: data ------------------------------------------------
def test_the_mapping_is_data_next_to_the_architectures() -> None:
    table = unread.relies_on(REPO / "fixtures")
    assert table["warm_standby"] == (("global", "dr"),)
    assert table["high_availability"] == (("global", "pdb"),)
    assert ("global", "autoscaling") in table["hpa_bounds"]
    catalog = load_catalog(REPO / "fixtures")
    assert (catalog.root / unread.RELIES_ON_FILE).is_file()


@dataclasses.dataclass
class FakeSession:
    """Just what :func:`unread.inexpressible` asks of a session."""

    fixtures: Path
    layer: Any
    nothing: frozenset[KeyPath]

    @property
    def options(self) -> Any:
        return Options(chart=Path("."), fixtures=self.fixtures)

    def unread(self, pair: Any, standby: bool = False) -> Decision:
        return Decision(nothing=self.nothing)

    def labelled_layers(self, pair: Any, standby: bool = False) -> list[tuple[Any, str, str]]:
        return [(self.layer, "overlay", "architecture")]


def test_inexpressible_needs_an_unread_key_the_check_relies_on(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    (fixtures / unread.RELIES_ON_FILE).write_text("relies_on:\n  my_check: [global.snap]\n")
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("global:\n  ha: true\n  snap:\n    every: 6h\n")
    catalog = load_catalog(REPO / "fixtures")
    pair = catalog.pairs(["small"], ["prod-1-incluster"])[0]
    layer = load_layer(overlay, "overlay.yaml")
    hit = unread.inexpressible(FakeSession(fixtures, layer, frozenset({("global", "snap")})), pair,  # type: ignore[arg-type]
                               "my_check")
    assert hit is not None and hit.source == "overlay.yaml:3 global.snap" and "read by nothing" in str(hit)
    read = FakeSession(fixtures, layer, frozenset({("global", "ha")}))
    assert unread.inexpressible(read, pair, "my_check") is None  # type: ignore[arg-type]
    assert unread.inexpressible(read, pair, "other_check") is None  # type: ignore[arg-type]
    (fixtures / unread.RELIES_ON_FILE).write_text("relies_on: [global.snap]\n")
    unread._relies_on_table.cache_clear()
    with pytest.raises(Exception, match="relies_on"):
        unread.inexpressible(read, pair, "my_check")  # type: ignore[arg-type]
    unread._relies_on_table.cache_clear()


@needs_released
def test_a_dependent_test_fails_with_one_line_pointing_at_the_cause(pytester: pytest.Pytester,
                                                                     real_helm: Path) -> None:
    """On the released chart (which reads no global.pdb), a high-availability test of a 3-replica
    architecture says once why instead of listing the PDB symptoms; its other true findings
    (small's HPA minimum of 1) are still listed."""
    result = pytester.runpytest_subprocess(
        str(REPO / "tests" / "conformance"), "--rootdir", str(REPO), "-p", "no:cacheprovider",
        "-p", "no:randomly", "--refarch-fixtures", str(REPO / "fixtures"), "--refarch-helm", str(real_helm),
        "--chart-path", str(RELEASED), "--refarch-profile", "small", "--refarch-architecture", "prod-3-incluster",
        "-q", "-k", "high_availability and Deployment/ng-manager or architecture_expressible")
    out = result.stdout.str()
    assert result.ret == 1
    ha = out[out.index("test_high_availability[small-prod-3-incluster-Deployment/ng-manager] _"):].split("\n_", 1)[0]
    lines = [line for line in ha.splitlines() if line.startswith("  - [")]
    assert not [line for line in lines if "PodDisruptionBudget" in line or "disruptions allowed" in line], ha
    assert [line for line in lines[1:] if "[architecture]" in line] == [], ha  # the cause, once
    assert lines[0].startswith("  - [architecture] architecture prod-3-incluster: global.pdb:")
    assert "test_architecture_expressible[small-prod-3-incluster]" in lines[0]
    assert "overlays/prod-3-incluster.yaml:7 global.pdb" in lines[0]
    assert "architecture prod-3-incluster overlay overlays/prod-3-incluster.yaml: global.pdb" in out


def test_a_stored_render_compares_equal_to_a_fresh_one() -> None:
    """The render store keeps masked values; a fresh render of the same inputs is the same."""
    from harness_refarch.helm.store import scrub

    text = ("kind: ConfigMap\napiVersion: v1\nmetadata: {name: c}\n"
            "data: {MONGO_URI: 'mongodb://u:s3cr3t@h:27017/db', API_TOKEN: abcdefghijklmnop123456}\n")
    fresh = _manifest(text)
    stored = _manifest(text)
    for obj in stored.objects:
        obj.body.update(scrub(obj.body))
    assert [o.body for o in fresh.objects] != [o.body for o in stored.objects]
    assert same_objects(fresh, stored, Volatility())


def test_a_key_equal_to_its_default_is_not_reported_when_a_template_reads_it(tmp_path: Path,
                                                                             real_helm: Path) -> None:
    """greeting.text is read only through tpl (the scan cannot see it) and the user sets it to
    its default: removing it changes nothing, overwriting it does, so it is not reported; a key
    no part of the chart has is reported after one render."""
    chart = tmp_path / "tiny"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: tiny\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text('msg: "{{ .Values.greeting.text }}"\ngreeting:\n  text: hi\n')
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tiny\ndata:\n  msg: {{ tpl .Values.msg . | quote }}\n")
    for profile in ("demo", "small"):
        (chart / f"override-{profile}.yaml").write_text("greeting:\n  text: hi\nnotInThisChart: {a: 1}\n")
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    (fixtures / "profiles.yaml").write_text((REPO / "fixtures" / "profiles.yaml").read_text())
    (fixtures / "overlays").mkdir()
    (fixtures / "overlays" / "demo.yaml").write_text("{}\n")
    (fixtures / "architectures.yaml").write_text(
        "architectures:\n  demo:\n    title: Demo\n    profiles: [demo]\n    overlay: overlays/demo.yaml\n"
        "    ha: false\n    backup: false\n    databases: {}\n")
    rs = RefarchSession(Options(chart=chart, fixtures=fixtures, helm=str(real_helm), cache=False))
    try:
        [pair] = rs.pairs
        assert unread.stack_candidates(rs, pair) == {("greeting",): True, ("notInThisChart",): False}
        decision = rs.unread(pair)
        assert decision.nothing == {("notInThisChart",)}
        assert decision.matters == {("greeting",)}
        assert not list(chart.glob("*.yaml.*")) and sorted(p.name for p in chart.iterdir()) == [
            "Chart.yaml", "override-demo.yaml", "override-small.yaml", "templates", "values.yaml"]
    finally:
        rs.close()


def test_only_the_findings_the_unread_keys_decide_become_the_cause(tmp_path: Path) -> None:
    """An unread global.pdb explains a missing PDB, not an anti-affinity that misses its pods."""
    from harness_refarch.model.findings import Finding

    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    (fixtures / unread.RELIES_ON_FILE).write_text(
        "relies_on:\n  ha:\n    keys: [global.pdb]\n    fields: ['PodDisruptionBudget']\n  all: [global.x]\n")
    pdb = Finding("replicas", "Deployment/a", "PodDisruptionBudget", "a PDB selecting its pods", "none")
    affinity = Finding("replicas", "Deployment/a", "spec.template.spec.affinity", "anti-affinity", "none")
    assert unread.decided_by_keys(fixtures, "ha", [pdb, affinity]) == ([pdb], [affinity])
    assert unread.decided_by_keys(fixtures, "all", [pdb, affinity]) == ([pdb, affinity], [])
    assert unread.decided_by_keys(fixtures, "unknown", [pdb]) == ([], [pdb])


def test_a_probe_that_fails_for_a_reason_of_the_machine_decides_nothing() -> None:
    """A probe render that hung, crashed or could not start leaves its keys undecided; it never
    makes a key "matter" (a verdict is a function of the inputs, not of the machine's load)."""
    from harness_refarch.engine.unread import Undecidable

    calls: list[tuple[str, ...]] = []

    def flaky(group):  # the first probe (all keys) is fine, the next one crashes
        calls.append(tuple(k[0] for k in group))
        if len(calls) == 2:
            raise Undecidable("helm template failed with exit code 2.")
        return len(calls) == 1

    decision = decide(_keys(*"abcd"), flaky)
    assert decision.matters == frozenset()
    assert decision.undecided == frozenset(_keys(*"abcd"))
    assert any("reason of the machine" in note for note in decision.notes)


@pytest.mark.parametrize(("reason", "transient"), [
    ("helm template failed with exit code 1.", False),  # helm's own chart error
    ("helm template failed with exit code 2.", True),  # a Go crash
    ("helm template failed with exit code -9.", True),  # killed (out of memory)
    ("helm template did not finish within 5 s and was killed with every process it started.", True),
    ("Could not start helm template: [Errno 11] Resource temporarily unavailable (retried once).", True),
    ("helm template printed output that is not UTF-8 (byte 3).", False),
])
def test_which_render_failures_are_the_machines(reason: str, transient: bool) -> None:
    from harness_refarch.helm.render import RenderFailure

    assert RenderFailure("p", reason).transient is transient


def _tiny_chart(tmp_path: Path, msg: str, override: str) -> tuple[Path, Path]:
    chart = tmp_path / "tiny"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: tiny\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text(f"msg: {msg}\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tiny\ndata:\n  msg: {{ tpl .Values.msg . | quote }}\n")
    (chart / "override-demo.yaml").write_text(override)
    fixtures = tmp_path / "fixtures"
    (fixtures / "overlays").mkdir(parents=True)
    (fixtures / "profiles.yaml").write_text((REPO / "fixtures" / "profiles.yaml").read_text())
    (fixtures / "overlays" / "demo.yaml").write_text("{}\n")
    (fixtures / "architectures.yaml").write_text(
        "architectures:\n  demo:\n    title: Demo\n    profiles: [demo]\n    overlay: overlays/demo.yaml\n"
        "    ha: false\n    backup: false\n    databases: {}\n")
    return chart, fixtures


def test_a_stored_decision_answers_a_warm_run_without_any_render(tmp_path: Path, real_helm: Path) -> None:
    """The decision is a function of cached inputs (issue 17): a second session on the same
    inputs reads it from the render store and neither probes nor renders; without a store it is
    decided again, to the same answer."""
    chart, fixtures = _tiny_chart(tmp_path, "'{{ .Values.greeting }}'", "greeting: {text: hi}\nnotRead: {a: 1}\n")

    def session(cache: bool = True) -> RefarchSession:
        return RefarchSession(Options(chart=chart, fixtures=fixtures, helm=str(real_helm), cache=cache,
                                      cache_dir=tmp_path / "cache"))

    first = session()
    try:
        [pair] = first.pairs
        assert unread.stored_decision(first, pair) is None
        cold = first.unread(pair)
        assert cold.nothing == {("notRead",)} and cold.matters == {("greeting",)} and cold.renders >= 2
    finally:
        first.close()
    warm = session()
    try:
        warm.decide_later([(pair, False)])
        assert warm.unread(pair) == cold and warm.cache.renders == 0
    finally:
        warm.close()
    off = session(cache=False)
    try:
        assert off.unread(pair) == cold and off.cache.renders > 0
    finally:
        off.close()


def test_a_second_process_waits_for_the_decision_another_is_making(tmp_path: Path, real_helm: Path) -> None:
    """pytest -n: a worker asking for a stack another worker is deciding waits for that decision
    (the store's per-key lock) instead of walking the chain of probe renders again."""
    chart, fixtures = _tiny_chart(tmp_path, "'{{ .Values.greeting }}'",
                                  "greeting: {text: hi}\nnotRead: {a: 1}\nalsoNot: {b: 2}\n")
    slow = tmp_path / "slow-helm"
    slow.write_text(f"#!/bin/sh\nsleep 0.3\nexec {real_helm} \"$@\"\n")
    slow.chmod(0o755)
    first, second = (RefarchSession(Options(chart=chart, fixtures=fixtures, helm=str(slow),
                                            cache_dir=tmp_path / "cache")) for _ in range(2))
    try:
        [pair] = first.pairs
        first.decide_later([(pair, False)])
        while not any(tmp_path.joinpath("cache").rglob("*.lock")):  # the chain has begun
            time.sleep(0.01)
        time.sleep(0.2)
        answer = second.unread(pair)
        assert answer == first.unread(pair) and answer.nothing == {("notRead",), ("alsoNot",)}
        assert min(first.cache.renders, second.cache.renders) == 0, (first.cache.renders, second.cache.renders)
    finally:
        first.close()
        second.close()


def test_a_decision_a_failed_render_took_part_in_is_not_stored(tmp_path: Path, real_helm: Path) -> None:
    """Removing greeting makes the render fail (required): the key matters, but a failure may be
    a timeout, so the decision is made again next time, like a failed render."""
    chart, fixtures = _tiny_chart(tmp_path, "'{{ required \"greeting.text is required\" .Values.greeting.text }}'",
                                  "greeting: {text: hi}\n")
    rs = RefarchSession(Options(chart=chart, fixtures=fixtures, helm=str(real_helm), cache_dir=tmp_path / "cache"))
    try:
        [pair] = rs.pairs
        assert rs.unread(pair).matters == {("greeting",)}
        assert unread.stored_decision(rs, pair) is None
    finally:
        rs.close()


def test_stacks_decided_on_their_own_threads_get_the_synchronous_answer(tmp_path: Path, real_helm: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The plugin starts every stack's chain of probe renders at once, each on a thread of its
    own, so that the render pool never waits for a test to ask (issue 17): each decision equals
    the one taken on the test's thread, and all threads share one private work directory."""
    chart, fixtures = _tiny_chart(tmp_path, "'{{ .Values.greeting }}'", "greeting: {text: hi}\nnotRead: {a: 1}\n")
    (chart / "override-small.yaml").write_text("greeting: {text: hello}\nalsoNotRead: 2\nnotRead: {b: 3}\n")
    arch = fixtures / "architectures.yaml"
    arch.write_text(arch.read_text().replace("profiles: [demo]", "profiles: [demo, small]"))
    made: list[str] = []
    real_mkdtemp = session_module.tempfile.mkdtemp

    def counting_mkdtemp(*args: Any, **kwargs: Any) -> str:
        made.append(real_mkdtemp(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(session_module.tempfile, "mkdtemp", counting_mkdtemp)

    def session() -> RefarchSession:
        return RefarchSession(Options(chart=chart, fixtures=fixtures, helm=str(real_helm), cache=False))

    threaded, synchronous = session(), session()
    try:
        pairs = threaded.pairs
        assert len(pairs) == 2 and made == []  # a chart directory needs no work directory
        threaded.decide_later((p, False) for p in pairs)
        background = {p.id: threaded.unread(p) for p in pairs}
        assert len(made) == 1, made  # every thread writes its probes into the one work directory
        by_pair = {p.id: synchronous.unread(p) for p in synchronous.pairs}
        assert background == by_pair
        assert background[pairs[1].id].nothing == {("alsoNotRead",), ("notRead",)}, background
    finally:
        threaded.close()
        synchronous.close()
    assert not any(Path(d).exists() for d in made)
