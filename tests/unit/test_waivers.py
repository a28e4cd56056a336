"""Self-tests of the waivers file: matching, expiry, staleness, malformed files, baseline, atomic writes."""

from __future__ import annotations

import os
import stat
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from harness_refarch.engine.waivers import Waivers, baseline, glob_escape, load_waivers
from harness_refarch.model import files as files_mod
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.files import check_writable, write_atomic
from harness_refarch.model.findings import Finding

TODAY = date(2025, 6, 15)

CPU = Finding("resources", "Deployment/delegate-proxy", "containers[proxy].resources.limits.cpu", "set", "missing")
MEM = Finding("resources", "Deployment/ng-manager", "containers[ng].resources.requests.memory", "set", "missing")
WIRE = Finding("wiring", "Deployment/ng-manager", "MONGO_URI", "tls=true", "mongodb://***@mongo:27017")


def write(tmp_path: Path, text: str, name: str = "waivers.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, today: date = TODAY) -> Waivers:
    return load_waivers(write(tmp_path, text), today=today)


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(RefarchError) as exc:
        load(tmp_path, text)
    return str(exc.value)


# -- matching ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("entry", "waived"), [
    ("check: resources", {CPU, MEM}),
    ("check: wir*", {WIRE}),
    ("check: Resources", set()),  # case-sensitive on every platform
    ("workload: Deployment/delegate-proxy*", {CPU}),
    ("workload: '*/ng-manager'", {MEM, WIRE}),
    ("field: '*.limits.*'", {CPU}),
    ("field: MONGO_?RI", {WIRE}),
    ("pair: large-*", {CPU, MEM, WIRE}),
    ("pair: small-*", set()),
    ("pair: '*-prod-3-incluster'", {CPU, MEM, WIRE}),
    ("pair: '*-prod-1-incluster'", set()),
    ("check: resources\n    workload: '*/ng-manager'", {MEM}),  # every pattern must match
])
def test_each_pattern_selects_findings(tmp_path: Path, entry: str, waived: set[Finding]) -> None:
    ws = load(tmp_path, f"waivers:\n  - {entry}\n    reason: known gap\n")
    failing, matched = ws.split([CPU, MEM, WIRE], "large-prod-3-incluster")
    assert {f for f, _ in matched} == waived
    assert set(failing) == {CPU, MEM, WIRE} - waived
    assert all(w.reason == "known gap" for _, w in matched)


def test_missing_patterns_default_to_everything(tmp_path: Path) -> None:
    ws = load(tmp_path, "waivers:\n  - check: '*'\n    pair: demo-*\n    reason: waive demo\n")
    (waiver,) = ws.entries
    assert (waiver.check, waiver.pair, waiver.workload, waiver.field) == ("*", "demo-*", "*", "*")
    failing, matched = ws.split([CPU, WIRE], "demo-demo")
    assert failing == [] and [f for f, _ in matched] == [CPU, WIRE]


@pytest.mark.parametrize("text", ["waivers:\n  - reason: waive it all\n",
                                  "waivers:\n  - check: '*'\n    field: '**'\n    reason: waive it all\n"])
def test_a_waiver_that_would_match_every_finding_is_refused(tmp_path: Path, text: str) -> None:
    """Issue 14: a waiver without a matcher silently waived every finding, new ones included."""
    message = error_of(tmp_path, text)
    assert "entry 1 (line 2) matches every finding" in message and "check: resources" in message, message


def test_first_matching_waiver_is_reported_and_all_matching_are_used(tmp_path: Path) -> None:
    ws = load(tmp_path, "waivers:\n"
                        "  - check: resources\n    reason: first\n"
                        "  - workload: Deployment/delegate-proxy\n    reason: second\n")
    _, matched = ws.split([CPU], "small-prod-1-incluster")
    assert [w.reason for _, w in matched] == ["first"]
    assert ws.stale() == []  # the second one matched too, so it is not stale


def test_describe_names_file_line_and_patterns(tmp_path: Path) -> None:
    ws = load(tmp_path, "# header\nwaivers:\n  - check: resources\n    pair: large-*\n"
                        "    reason: sized by the customer\n    expires: 2025-07-01\n")
    (waiver,) = ws.entries
    text = waiver.describe()
    assert text.startswith(f"{tmp_path / 'waivers.yaml'}:3 ")
    assert "check=resources pair=large-* workload=* field=*" in text
    assert "expires=2025-07-01" in text
    assert waiver.reason == "sized by the customer"


def test_findings_with_glob_characters_match_literally_when_escaped(tmp_path: Path) -> None:
    odd = Finding("resources", "Deployment/x", "containers[app].resources", "set", "missing")
    other = Finding("resources", "Deployment/x", "containersa.resources", "set", "missing")
    ws = load(tmp_path, f"waivers:\n  - field: '{glob_escape(odd.field)}'\n    reason: r\n")
    failing, matched = ws.split([odd, other], "demo-demo")
    assert [f for f, _ in matched] == [odd] and failing == [other]


# -- expiry -----------------------------------------------------------------------------------------

def test_waiver_expired_yesterday_no_longer_waives_and_is_reported(tmp_path: Path) -> None:
    yesterday = TODAY - timedelta(days=1)
    ws = load(tmp_path, f"waivers:\n  - check: resources\n    reason: temporary\n    expires: {yesterday}\n")
    failing, matched = ws.split([CPU], "large-prod-3-incluster")
    assert failing == [CPU] and matched == []
    assert [w.expires for w in ws.expired()] == [yesterday]
    assert ws.stale() == []  # reported as expired, not twice


def test_waiver_expiring_today_still_applies(tmp_path: Path) -> None:
    ws = load(tmp_path, f"waivers:\n  - check: resources\n    reason: temporary\n    expires: '{TODAY}'\n")
    failing, matched = ws.split([CPU], "large-prod-3-incluster")
    assert failing == [] and len(matched) == 1
    assert ws.expired() == []
    assert [w.reason for w in ws.expired(TODAY + timedelta(days=1))] == ["temporary"]


def test_expired_waiver_falls_through_to_an_active_one(tmp_path: Path) -> None:
    ws = load(tmp_path, "waivers:\n"
                        "  - check: resources\n    reason: old\n    expires: 2020-01-01\n"
                        "  - workload: Deployment/delegate-proxy\n    reason: current\n")
    _, matched = ws.split([CPU], "large-prod-3-incluster")
    assert [w.reason for _, w in matched] == ["current"]


# -- stale ------------------------------------------------------------------------------------------

def test_waiver_that_matches_nothing_is_stale(tmp_path: Path) -> None:
    ws = load(tmp_path, "waivers:\n"
                        "  - check: resources\n    reason: used\n"
                        "  - workload: Deployment/gone\n    reason: fixed long ago\n")
    ws.split([CPU], "large-prod-3-incluster")
    assert [w.reason for w in ws.stale()] == ["fixed long ago"]
    assert "workload=Deployment/gone" in ws.stale()[0].describe()


def test_stale_only_judges_waivers_whose_pairs_ran(tmp_path: Path) -> None:
    ws = load(tmp_path, "waivers:\n"
                        "  - pair: large-*\n    workload: Deployment/gone\n    reason: large only\n"
                        "  - pair: small-*\n    workload: Deployment/gone\n    reason: small only\n")
    ws.split([CPU], "small-prod-1-incluster")
    assert [w.reason for w in ws.stale(["small-prod-1-incluster"])] == ["small only"]
    assert [w.reason for w in ws.stale(["small-prod-1-incluster", "large-dr-warm-standby"])] == [
        "large only", "small only"]
    assert ws.stale([]) == []


def test_usage_merges_across_workers(tmp_path: Path) -> None:
    text = "waivers:\n  - check: resources\n    reason: r\n"
    worker, controller = load(tmp_path, text), load(tmp_path, text)
    worker.split([CPU, MEM], "large-prod-3-incluster")
    assert controller.stale() != []
    controller.merge_usage(worker.usage())
    assert controller.stale() == [] and controller.hits(controller.entries[0]) == 2


def test_empty_file_and_empty_list_mean_no_waivers(tmp_path: Path) -> None:
    for text in ("", "# nothing yet\n", "waivers: []\n", "waivers:\n"):
        ws = load(tmp_path, text)
        assert ws.entries == () and ws.split([CPU], "demo-demo") == ([CPU], [])


# -- malformed files --------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("waivers:\n  - check: resources\n", ["entry 1 (line 2)", "has no reason", "'reason:'"]),
    ("waivers:\n  - check: resources\n    reason: '  '\n", ["entry 1 (line 3)", "has no reason"]),
    ("waivers:\n  - reason: 42\n", ["entry 1 (line 2)", "42", "not text"]),
    ("waivers:\n  - check: c\n    reason: r\n  - chek: resources\n    reason: r\n",
     ["entry 2 (line 4)", "unknown key(s) 'chek' (did you mean 'check'?)", "Allowed keys"]),
    ("waivers:\n  - reason: r\n    expires: 2025-13-01\n", ["entry 1 (line 3)", "not an ISO date", "YYYY-MM-DD"]),
    ("waivers:\n  - reason: r\n    expires: next week\n", ["'next week'", "not an ISO date"]),
    ("waivers:\n  - reason: r\n    expires: 2025-6-1\n", ["'2025-6-1'", "YYYY-MM-DD"]),
    ("waivers:\n  - reason: r\n    expires: 20250601\n", ["20250601", "not an ISO date"]),
    ("waivers:\n  - reason: r\n    expires: 2025-06-01T10:00:00\n", ["timestamp", "2025-06-01"]),
    ("waivers:\n  - reason: r\n    pair: 3\n", ["entry 1 (line 3)", "'pair' is 3", "non-empty string glob"]),
    ("waivers:\n  - reason: r\n    field: ''\n", ["'field' is ''", "omit it"]),
    ("waivers:\n  - reason: r\n    workload: [a, b]\n", ["'workload' is ['a', 'b']"]),
    ("waivers:\n  - just a string\n", ["entry 1 (line 2)", "not a mapping"]),
    ("waivers:\n  check: resources\n", ["'waivers' (line 2)", "not a list", "'- '"]),
    ("- check: resources\n  reason: r\n", ["must be a mapping with one key 'waivers:'"]),
    ("waiver:\n  - reason: r\n", ["must be a mapping with one key 'waivers:'"]),
    ("waivers: []\nextra: 1\n", ["unknown top-level key(s) extra"]),
    ("waivers:\n  - reason: r\n   check: x\n", ["not valid YAML (", "at line 3, column 4)"]),
    ("waivers:\n  - check: resources\n    reason: a\n  - check: resources\n    reason: b\n",
     ["entry 2 (line 4) repeats the patterns of entry 1 (line 2)", "Delete one"]),
])
def test_malformed_files_raise_one_readable_paragraph(tmp_path: Path, text: str, expected: list[str]) -> None:
    message = error_of(tmp_path, text)
    assert str(tmp_path / "waivers.yaml") in message
    for part in expected:
        assert part in message, message
    assert "\n" not in message and "Traceback" not in message


def test_missing_file_names_the_path_and_option(tmp_path: Path) -> None:
    with pytest.raises(RefarchError, match=r"Cannot read the waivers file .*nope\.yaml.*--refarch-waivers"):
        load_waivers(tmp_path / "nope.yaml")


def test_yaml_error_does_not_quote_the_file(tmp_path: Path) -> None:
    message = error_of(tmp_path, "waivers:\n  - reason: hunter2-is-not-here\n   check: x\n")
    assert "hunter2" not in message


# -- baseline ---------------------------------------------------------------------------------------

ODD = Finding("resources", "Job/hook-[abc]*?", "containers[main].resources.limits.cpu", "set", "missing")


def test_baseline_round_trip_waives_exactly_the_recorded_findings(tmp_path: Path) -> None:
    recorded = [("large-prod-3-incluster", CPU), ("large-prod-3-incluster", ODD), ("small-demo", WIRE),
                ("large-prod-3-incluster", CPU)]  # duplicate
    path = tmp_path / "waivers.yaml"
    write_atomic(path, baseline(recorded, today=TODAY))
    ws = load_waivers(path, today=TODAY)
    assert len(ws.entries) == 3
    assert {w.reason for w in ws.entries} == {"baseline: recorded 2025-06-15, fix or justify"}

    new = Finding("resources", "Job/hook-abc", "containers[main].resources.limits.cpu", "set", "missing")
    failing, matched = ws.split([CPU, ODD, WIRE, MEM, new], "large-prod-3-incluster")
    assert {f for f, _ in matched} == {CPU, ODD}
    assert set(failing) == {WIRE, MEM, new}  # WIRE was recorded for another pair; MEM and new are new
    failing, matched = ws.split([WIRE, CPU], "small-demo")
    assert [f for f, _ in matched] == [WIRE] and failing == [CPU]
    assert ws.stale() == []


def test_baseline_is_deterministic_sorted_and_without_values() -> None:
    a = [("small-demo", WIRE), ("large-prod-3-incluster", MEM), ("large-prod-3-incluster", CPU)]
    text = baseline(a, today=TODAY)
    assert text == baseline(reversed(a), today=TODAY)
    entries = yaml.safe_load(text)["waivers"]
    assert [(e["check"], e["pair"], e["workload"]) for e in entries] == [
        ("resources", "large-prod-3-incluster", "Deployment/delegate-proxy"),
        ("resources", "large-prod-3-incluster", "Deployment/ng-manager"),
        ("wiring", "small-demo", "Deployment/ng-manager")]
    assert all(set(e) == {"check", "pair", "workload", "field", "reason"} for e in entries)
    assert "mongodb://" not in text and "***" not in text  # expected/actual never stored
    assert text.startswith("# Waivers baseline")


def test_baseline_of_nothing_is_a_valid_empty_waivers_file(tmp_path: Path) -> None:
    path = write(tmp_path, baseline([], today=TODAY))
    assert load_waivers(path).entries == ()


def test_glob_escape_matches_only_itself() -> None:
    from fnmatch import fnmatchcase
    for text in ("a[b]c", "*", "x?y", "[", "]", "plain", "a[!b]"):
        assert fnmatchcase(text, glob_escape(text))
    assert not fnmatchcase("ab", glob_escape("a?"))
    assert not fnmatchcase("a-anything", glob_escape("a-*"))


# -- atomic write -----------------------------------------------------------------------------------

def test_write_atomic_replaces_content(tmp_path: Path) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text("old\n")
    path.chmod(0o640)
    write_atomic(path, "new\n")
    assert path.read_text() == "new\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_new_file_is_readable_by_others(tmp_path: Path) -> None:
    path = tmp_path / "new.yaml"
    write_atomic(path, "x\n")
    assert path.stat().st_mode & 0o777 == 0o644


def test_failing_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text("waivers: []\n")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files_mod.os, "fsync", broken_fsync)
    with pytest.raises(RefarchError, match=r"Cannot write .*waivers\.yaml: No space left on device\. The previous"):
        write_atomic(path, baseline([("demo-demo", CPU)]))
    assert path.read_text() == "waivers: []\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_failing_replace_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text("old\n")

    def broken_replace(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files_mod.os, "replace", broken_replace)
    with pytest.raises(RefarchError, match="Permission denied"):
        write_atomic(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_interrupt_during_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text("old\n")

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(files_mod.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, "new\n")
    assert path.read_text() == "old\n"


def test_missing_directories_are_created(tmp_path: Path) -> None:
    write_atomic(tmp_path / "new" / "dir" / "waivers.yaml", "x\n")
    assert (tmp_path / "new" / "dir" / "waivers.yaml").read_text() == "x\n"


def test_unwritable_location_is_a_readable_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(RefarchError, match=r"Cannot write .*file/waivers\.yaml: .*previous file, if any, is unchanged"):
        write_atomic(tmp_path / "file" / "waivers.yaml", "x\n")


def test_a_device_or_pipe_is_never_replaced_by_a_regular_file(tmp_path: Path) -> None:
    """As root, a baseline or report written to /dev/null would replace the machine's /dev/null."""
    pipe = tmp_path / "waivers.yaml"
    os.mkfifo(pipe)
    with pytest.raises(RefarchError, match=r"waivers\.yaml: it is a named pipe, not a regular file"):
        write_atomic(pipe, "x\n")
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    with pytest.raises(RefarchError, match="it is a character device"):
        check_writable(Path("/dev/null"), "--refarch-report")


def test_concurrent_writers_never_leave_a_torn_file(tmp_path: Path) -> None:
    path = tmp_path / "waivers.yaml"
    texts = [baseline([(f"pair-{i}", CPU)] * 1, today=TODAY) * 50 for i in range(6)]
    errors: list[BaseException] = []

    def run(text: str) -> None:
        try:
            for _ in range(5):
                write_atomic(path, text)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert path.read_text() in texts


def test_lock_timeout_is_a_readable_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import filelock

    path = tmp_path / "waivers.yaml"
    path.write_text("old\n")
    monkeypatch.setattr(files_mod, "LOCK_TIMEOUT_S", 0.05)
    # flock() locks belong to an open file, so a second FileLock on the same path blocks like another process.
    holder = filelock.FileLock(str(files_mod.lock_for(path)))
    with holder:
        with pytest.raises(RefarchError, match=r"another process has held .*waivers\.yaml\.lock"):
            write_atomic(path, "new\n")
    assert path.read_text() == "old\n"
    write_atomic(path, "new\n")  # released: writing works again
    assert path.read_text() == "new\n"


def test_the_example_file_loads() -> None:
    example = Path(__file__).resolve().parents[2] / "fixtures" / "waivers.example.yaml"
    ws = load_waivers(example, today=date(2026, 1, 1))
    assert len(ws.entries) >= 3 and ws.expired() == []
    assert all(w.reason for w in ws.entries)


# -- waivers about one chart (issue 13 item 6) -------------------------------------------------------
BLOCKING = Finding("integrity", "Ingress/blocking-swagger-api",
                   "spec.rules[0].http.paths[0] (/api/swagger(/|$)(.*)) backend service",
                   "Service dne in the render", "no Service dne")


def test_chart_glob_limits_a_waiver_to_its_chart(tmp_path: Path) -> None:
    """A waiver about one chart's intentional pattern waives there and is inactive elsewhere:
    it neither waives another chart's finding nor goes stale on a chart without the pattern."""
    text = ("waivers:\n  - check: integrity\n    chart: harness\n    workload: Ingress/blocking-*\n"
            "    reason: blocks a path on purpose\n")
    path = write(tmp_path, text)
    released = load_waivers(path, today=TODAY, chart="harness")
    failing, waived = released.split([BLOCKING], "small-prod-3-incluster")
    assert failing == [] and [w.reason for _, w in waived] == ["blocks a path on purpose"]
    other = load_waivers(path, today=TODAY, chart="harness-prod")
    assert other.split([BLOCKING], "small-prod-3-incluster")[0] == [BLOCKING]
    assert other.stale() == []  # not about this chart: never stale here
    assert load_waivers(path, today=TODAY, chart="harness").stale() != []  # on its chart it can go stale


def test_an_optional_waiver_waives_where_it_matches_and_never_goes_stale(tmp_path: Path) -> None:
    """A pattern not every configuration renders (the blocking Ingress exists only where a profile
    turns ingress on): it waives the finding where it is rendered, and a run without it passes."""
    text = ("waivers:\n  - check: integrity\n    workload: Ingress/blocking-*\n    optional: true\n"
            "    reason: blocks a path on purpose\n  - check: integrity\n    workload: Ingress/other\n"
            "    reason: an ordinary entry\n")
    ws = load(tmp_path, text)
    assert ws.entries[0].optional and not ws.entries[1].optional
    assert [w.reason for w in ws.stale()] == ["an ordinary entry"]  # the optional one is never stale
    failing, waived = ws.split([BLOCKING], "large-dr-warm-standby")
    assert failing == [] and [w.reason for _, w in waived] == ["blocks a path on purpose"]


def test_optional_must_be_true_or_false(tmp_path: Path) -> None:
    error = error_of(tmp_path, "waivers:\n  - check: integrity\n    optional: 'yes'\n    reason: x\n")
    assert "'optional' is 'yes', not true or false" in error and "(line 3)" in error


def test_repository_waivers_never_fail_a_run_of_profiles_without_the_pattern() -> None:
    """The 0.10 override-prod.yaml turns ingress off, so a run of the demo and prod profiles renders
    no blocking Ingress: the shipped entry must not fail that run as stale (its user cannot delete
    it from the suite's own file)."""
    path = Path(__file__).resolve().parents[2] / "fixtures" / "waivers.yaml"
    released = load_waivers(path, today=TODAY, chart="harness")
    assert released.entries and released.stale(["demo-demo", "prod-prod-3-incluster"]) == []


def test_chart_glob_must_be_text(tmp_path: Path) -> None:
    assert "'chart' is 3" in error_of(tmp_path, "waivers:\n  - chart: 3\n    reason: x\n")


def test_repository_waivers_file_waives_the_blocking_ingress_of_released_charts_only() -> None:
    """fixtures/waivers.yaml (the default file) ships the released chart's blocking Ingress as a
    waiver with its reason; the integrity check itself still reports any dangling backend."""
    path = Path(__file__).resolve().parents[2] / "fixtures" / "waivers.yaml"
    released = load_waivers(path, today=TODAY, chart="harness")
    failing, waived = released.split([BLOCKING], "large-dr-warm-standby")
    assert failing == [] and "deliberately does not exist" in waived[0][1].reason
    other = Finding("integrity", "Ingress/api", BLOCKING.field, "Service api in the render", "no Service api")
    assert released.split([other], "large-dr-warm-standby")[0] == [other]
    assert load_waivers(path, today=TODAY, chart="harness-prod").entries == ()


def test_writing_leaves_nothing_but_the_target_in_its_directory(tmp_path: Path) -> None:
    """Issue 16: every output left a .<name>.lock beside it (an untracked file in the chart repository)."""
    path = tmp_path / "repo" / "waivers.yaml"
    write_atomic(path, "waivers: []\n")
    write_atomic(path, "waivers: []\n# again\n")
    assert sorted(p.name for p in path.parent.iterdir()) == ["waivers.yaml"]
